// Each domain documents its own config section in a file of this folder; they are merged into the
// one schema in ../schema.ts. Add one line per section.
import { adminSection } from './admin';
import { androidSection } from './android';
import { appleSection } from './apple';
import { auditSection } from './audit';
import { policySection } from './policy';
import { scepSection } from './scep';

export const sectionSchemas: Record<string, object> = {
  admin: adminSection,
  android: androidSection,
  apple: appleSection,
  audit: auditSection,
  policy: policySection,
  scep: scepSection,
};
