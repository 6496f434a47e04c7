// DrawbridgeHTTP: strict HTTP/1.1 message parsing. Pure bytes in, values out.
