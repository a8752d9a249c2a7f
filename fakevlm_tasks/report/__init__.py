"""Reporting: results and logged-sample reading, statistics over runs, the leaderboard, the site and their CLI."""
