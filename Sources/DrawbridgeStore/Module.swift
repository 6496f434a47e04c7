/// The identity files under the configuration directory (users, API keys, sealed secrets) and the master key.
enum DrawbridgeStoreModule {}
