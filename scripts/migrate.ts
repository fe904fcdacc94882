// Applies the committed migrations to DATABASE_URL without starting the server (the server also does it at start-up).
import { loadConfig } from '../src/config.js';
import { openDatabase } from '../src/store/database.js';

const database = await openDatabase(loadConfig().store);
await database.close();
console.log('Database is up to date.');
