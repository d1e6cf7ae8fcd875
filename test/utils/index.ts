export * from './strict-fake';
export * from './site-config';
export * from './errors';
