import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { retryBusy } from '../db-errors';

/** Names of the installation's facts in `gocron_settings`. */
export const SETTINGS = {
  /** The fingerprint of the key secrets are sealed with (SecretBox.fingerprint). */
  secretKeyFingerprint: 'secret_key_fingerprint',
  /** Set once the credential headers of jobs stored before secrets existed were moved into secretHeaders. */
  secretHeadersMoved: 'secret_headers_moved',
} as const;

/** Facts about the installation, one row each, written once: the first writer wins and everyone reads its value. */
@Injectable()
export class SettingsRepository {
  constructor(@InjectDataSource() private readonly ds: DataSource) {}

  /**
   * Stores `value` under `name` unless a value is there already (of a process that got there first, maybe at the
   * same moment), and answers the stored one.
   */
  async recordOnce(name: string, value: string, now = Date.now()): Promise<string> {
    const ignore = this.ds.options.type === 'mysql' ? 'INSERT IGNORE' : 'INSERT OR IGNORE';
    await retryBusy(() =>
      this.ds.query(`${ignore} INTO gocron_settings (name, value, created_at) VALUES (?, ?, ?)`, [name, value, now]),
    );
    const stored = await this.get(name);
    if (stored === null) throw new Error(`gocron_settings: ${name} was not stored`);
    return stored;
  }

  async get(name: string): Promise<string | null> {
    const rows = await this.ds.query<{ value: string }[]>(`SELECT value FROM gocron_settings WHERE name = ?`, [name]);
    return rows.length > 0 ? rows[0].value : null;
  }
}
