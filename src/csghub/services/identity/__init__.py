"""Who people are: accounts, organizations, sign-in (password, LDAP, OIDC), sessions, tokens, SSH keys."""
