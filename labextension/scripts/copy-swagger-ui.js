// Copies Swagger UI's browser assets (the maintained swagger-ui-dist package)
// next to the server extension, which serves them at /hal/api/docs: no CDN.
const fs = require('fs');
const path = require('path');

const source = path.dirname(require.resolve('swagger-ui-dist/package.json'));
const target = path.resolve(__dirname, '..', '..', 'hal_jupyter', 'server', 'apidocs');
const files = ['swagger-ui-bundle.js', 'swagger-ui.css', 'favicon-32x32.png', 'LICENSE', 'package.json'];

fs.mkdirSync(target, { recursive: true });
for (const name of files) {
  fs.copyFileSync(path.join(source, name), path.join(target, name));
}
const { version } = require('swagger-ui-dist/package.json');
console.log(`swagger-ui-dist ${version}: ${files.length} files to ${path.relative(process.cwd(), target)}`);
