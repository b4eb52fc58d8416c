"""The security model: who is calling (auth/), the trail (trail/), keys (keys/), access, masking."""
