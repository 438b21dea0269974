"""The CPro General Orientation: sessions the CSI schedules, and who registered and attended."""
