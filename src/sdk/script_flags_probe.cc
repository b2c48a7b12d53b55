// Only its compile flags are used: they are the ones analysis scripts are compiled with.
