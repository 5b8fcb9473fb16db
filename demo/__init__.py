"""Demo data: `hotline demo seed` fills a database with a realistic generated history."""
