export * from './errors';
export * from './site-http';
export * from './mdc-client';
export * from './change-signal.client';
export * from './proxy.forwarder';
