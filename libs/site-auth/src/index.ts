export * from './site-signature';
export * from './admin-token';
export * from './testing';
