// DrawbridgeConfig: JSON5 configuration files into a validated, immutable snapshot.
