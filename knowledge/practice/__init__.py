"""The practice database: typed models, migrations, data functions and the demo practice."""
