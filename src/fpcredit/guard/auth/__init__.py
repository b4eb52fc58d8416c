"""Who is calling: accounts, logins, passwords, sessions, tokens, citizens, administrators."""
