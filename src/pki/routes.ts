// Plain-HTTP publication points: the CA chain (/ca.pem, and DER per CA for AIA caIssuers) and the
// CRLs (RFC 5280 section 4.2.1.13 distribution points). Public by design: nothing here is secret.
import type Router from '@koa/router';
import type { CertificateAuthority } from './ca';

export function mountPkiRoutes(router: Router, ca: CertificateAuthority): void {
  router.get('/ca.pem', (ctx) => {
    ctx.type = 'application/x-pem-file';
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.body = ca.chainPem();
  });
  router.get('/ca/root.crt', (ctx) => {
    ctx.type = 'application/pkix-cert';
    ctx.body = ca.root.der;
  });
  router.get('/ca/issuing.crt', (ctx) => {
    ctx.type = 'application/pkix-cert';
    ctx.body = ca.issuing.der;
  });
  router.get('/crl', (ctx) => {
    ctx.type = 'application/pkix-crl';
    ctx.set('Cache-Control', 'public, max-age=300');
    ctx.body = ca.currentCrl('issuing');
  });
  router.get('/crl/root', (ctx) => {
    ctx.type = 'application/pkix-crl';
    ctx.set('Cache-Control', 'public, max-age=300');
    ctx.body = ca.currentCrl('root');
  });
}
