print("whoami")
