/** API authentication: bearer tokens (hashed at rest) and the principals they stand for. */
export {
  API_ROLES,
  TOKEN_PREFIX,
  authenticateToken,
  createApiToken,
  hasActiveAdminToken,
  hashToken,
  revokeApiToken,
  type Principal,
} from './tokens.js';
