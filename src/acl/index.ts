export { authenticate } from './auth.js';
export { checkAcl, fixupAcl, type CheckAclOptions } from './check.js';
export { digestId, isValidDigestId } from './digest.js';
export * from './ids.js';
export { ipAuthId, ipMatches, isValidIpExpression } from './ip.js';
export { isValidX509Id, x509AuthIds, x509SubjectName } from './x509.js';
