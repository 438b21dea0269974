"""CPro Competency API: the system of record behind the CSC Leadership and Management Certification Program."""
