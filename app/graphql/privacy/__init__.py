"""A person's data: exportMyData, exportUserData, eraseMyData, eraseUser."""
