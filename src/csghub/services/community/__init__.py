"""What people do around repositories: discussions, likes, collections."""
