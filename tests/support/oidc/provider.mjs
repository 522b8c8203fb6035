// A real OpenID Connect provider for the login tests: panva's certified oidc-provider on a loopback port.
//
// The test harness (tests/support/oidc_provider.py) passes clients and users as JSON in
// CSGHUB_TEST_OIDC_CONFIG and reads "listening on <issuer>" from stdout. Only the interaction pages are
// ours: a login form that checks the password, and a consent step that approves what the client asked
// for, as a company IdP does for a first-party application.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';

import Provider from 'oidc-provider';

const config = JSON.parse(process.env.CSGHUB_TEST_OIDC_CONFIG);
const users = new Map(config.users.map((user) => [user.sub, user]));

// Fresh signing keys per run, one RSA and one EC, so that both RS256 and ES256 ID tokens can be tested.
function signingKey(type, options, kid) {
  const { privateKey } = generateKeyPairSync(type, options);
  return { ...privateKey.export({ format: 'jwk' }), kid, use: 'sig' };
}
const jwks = {
  keys: [
    signingKey('rsa', { modulusLength: 2048 }, 'rsa-1'),
    signingKey('ec', { namedCurve: 'P-256' }, 'ec-1'),
  ],
};

const server = createServer();
// Listen first: the issuer must name the port, and the port is only known once bound.
server.listen(0, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: config.clients,
    jwks,
    cookies: { keys: [randomBytes(32).toString('hex')] },
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'preferred_username'],
      groups: ['groups'],
    },
    features: { devInteractions: { enabled: false } },
    // Require PKCE for every client, confidential ones too, so a client that forgets it fails the tests.
    pkce: { required: () => true },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    async findAccount(_ctx, sub) {
      const user = users.get(sub);
      if (!user) return undefined;
      return { accountId: sub, claims: async () => ({ ...user.claims, sub }) };
    },
  });
  const oidc = provider.callback();

  server.on('request', (req, res) => {
    if (req.url.startsWith('/interaction/')) {
      interaction(provider, req, res).catch((err) => {
        res.statusCode = 500;
        res.end(String(err));
      });
    } else {
      oidc(req, res);
    }
  });
  process.stdout.write(`listening on ${issuer}\n`);
});

async function readForm(req) {
  let body = '';
  for await (const chunk of req) body += chunk;
  return new URLSearchParams(body);
}

function loginPage(res, uid, error) {
  res.setHeader('content-type', 'text/html; charset=utf-8');
  res.end(`<!doctype html><title>Sign in</title>${error ? `<p class="error">${error}</p>` : ''}
<form method="post" action="/interaction/${uid}/login">
<input name="username"><input name="password" type="password"><button>Sign in</button></form>`);
}

async function interaction(provider, req, res) {
  const details = await provider.interactionDetails(req, res);
  const { uid, prompt, params, session } = details;

  if (prompt.name === 'login') {
    if (req.method !== 'POST') return loginPage(res, uid, '');
    const form = await readForm(req);
    const user = [...users.values()].find(
      (u) => u.claims.preferred_username === form.get('username') && u.password === form.get('password'),
    );
    if (!user) {
      res.statusCode = 401;
      return loginPage(res, uid, 'Invalid username or password');
    }
    return provider.interactionFinished(req, res, { login: { accountId: user.sub } }, {
      mergeWithLastSubmission: false,
    });
  }

  // Consent: grant exactly what the provider says is still missing.
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  const missing = prompt.details;
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  const grantId = await grant.save();
  return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
}
