"""The running daemon: its loop, its HTTP endpoint, systemd notification and the instance lock."""
