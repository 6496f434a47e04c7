// DrawbridgeIdentity: who is asking, and whether the way they signed in is still allowed.
