"""Certificates: the CPro Certificate in Leadership and Management, issued as an Open Badges 3.0 credential."""
