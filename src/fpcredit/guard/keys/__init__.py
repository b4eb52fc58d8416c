"""Keys and ciphers: the identifier vault, the algorithms of both profiles, online rotation."""
