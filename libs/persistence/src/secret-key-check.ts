import type { SecretBox } from '@app/common';
import { SETTINGS, SettingsRepository } from './repositories/settings.repository';

/** This process's key is not the one the database's secrets are sealed with. */
export class SecretKeyMismatch extends Error {}

/**
 * Records the key's fingerprint when the database has none yet (the first process to start, dispatcher or
 * executor; the insert is race-safe), and refuses a key of another fingerprint: its process could not open a single
 * stored secret, and a dispatcher would seal new ones no executor could open.
 * @throws SecretKeyMismatch naming both fingerprints (never the key)
 */
export async function verifySecretKey(settings: SettingsRepository, box: SecretBox): Promise<void> {
  const stored = await settings.recordOnce(SETTINGS.secretKeyFingerprint, box.fingerprint);
  if (stored === box.fingerprint) return;
  throw new SecretKeyMismatch(
    `[auth] secret_key / data/secret.key differs from the key this database was set up with ` +
      `(fingerprint ${box.fingerprint}, database ${stored}): start every dispatcher and executor with the same key`,
  );
}
