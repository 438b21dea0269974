"""What every area of the service uses: settings, database, errors, pagination, logging."""
