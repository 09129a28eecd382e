module b
