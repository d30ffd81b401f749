export * from './v1.ts';
export * from './api.ts';
