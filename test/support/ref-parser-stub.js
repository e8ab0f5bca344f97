// jest cannot load @apidevtools/json-schema-ref-parser (ESM only) through openapi-backend's require().
// In quick mode with a document object, which is how the app runs, openapi-backend only calls
// parse() on that object (the real parse returns an object input as it is) and dereferences
// with another library. Anything else throws, so a change that starts using more of it fails loudly.
const unused = (name) => () => {
  throw new Error(`json-schema-ref-parser.${name} was called; tests load a stub of it (see jest.config.js)`);
};
const parse = async (doc) => {
  if (typeof doc !== 'object' || doc === null) unused('parse with a path')();
  return doc;
};
module.exports = { dereference: unused('dereference'), parse, resolve: unused('resolve') };
module.exports.default = module.exports;
