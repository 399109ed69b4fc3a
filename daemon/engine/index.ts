export { Engine } from './engine.ts';
export type * from './events.ts';
export * from './options.ts';
export { readSignalSidecar, writeSignalSidecar, type SignalSidecar } from './sidecar.ts';
