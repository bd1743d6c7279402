import path from 'node:path';
import { Option } from 'commander';

/**
 * The one rule for every command's model repository: --repository, else INFERA_REPOSITORY,
 * else the package's own models/ (the one `npm start` serves), whatever the current
 * directory. So `infera train` registers into the repository `infera serve` serves.
 */
export const PACKAGE_MODELS = path.resolve(__dirname, '../../../models');

export function repositoryOption(description = 'model repository'): Option {
  return new Option('-r, --repository <dir>', description).env('INFERA_REPOSITORY').default(PACKAGE_MODELS);
}
