export * from './v1.ts';
export * from './api.ts';
export * from './events.ts';
