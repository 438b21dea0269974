"""What other systems consume: the candidate change feed and signed webhooks."""
