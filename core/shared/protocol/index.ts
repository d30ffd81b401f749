export * from './v1.ts';
export * from './api.ts';
export * from './events.ts';
export * from './ui-api.ts';
