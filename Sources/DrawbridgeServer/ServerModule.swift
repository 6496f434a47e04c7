// DrawbridgeServer
