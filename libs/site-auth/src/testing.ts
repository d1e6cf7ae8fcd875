import { generateKeyPairSync, KeyObject } from 'node:crypto';

/** A fresh Ed25519 site key pair, for tests of anything that signs or verifies site-to-site calls. */
export function makeSiteKeyPair(): { privateKey: KeyObject; publicKeyPem: string; privateKeyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privateKey,
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}
