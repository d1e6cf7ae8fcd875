import { loadPrivateKey, publicKeyFromPem } from './site-signature';
import { makeSiteKeyPair } from './testing';

describe('makeSiteKeyPair', () => {
  it('makes a fresh Ed25519 key pair whose PEMs load like a site key file and a config publicKey', () => {
    const pair = makeSiteKeyPair();
    expect(pair.privateKey.asymmetricKeyType).toBe('ed25519');
    expect(loadPrivateKey(pair.privateKeyPem).equals(pair.privateKey)).toBe(true);
    expect(publicKeyFromPem(pair.publicKeyPem).asymmetricKeyType).toBe('ed25519');
    expect(makeSiteKeyPair().publicKeyPem).not.toBe(pair.publicKeyPem);
  });
});
