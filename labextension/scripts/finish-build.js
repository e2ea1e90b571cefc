// The last step of every build (jlpm build, jlpm build:prod):
// - install.json next to the built extension, so that `jupyter labextension list`
//   names the Python package that installed it (the wheel ships the whole folder);
// - Swagger UI's browser assets (the maintained swagger-ui-dist package) next to
//   the server extension, which serves them at /hal/api/docs: no CDN.
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..', '..');
fs.copyFileSync(path.join(__dirname, '..', 'install.json'), path.join(root, 'hal_jupyter', 'labextension', 'install.json'));

const source = path.dirname(require.resolve('swagger-ui-dist/package.json'));
const target = path.join(root, 'hal_jupyter', 'server', 'apidocs');
const files = ['swagger-ui-bundle.js', 'swagger-ui.css', 'favicon-32x32.png', 'LICENSE', 'package.json'];
fs.mkdirSync(target, { recursive: true });
for (const name of files) {
  fs.copyFileSync(path.join(source, name), path.join(target, name));
}
const { version } = require('swagger-ui-dist/package.json');
console.log(`install.json to hal_jupyter/labextension; swagger-ui-dist ${version}: ${files.length} files to hal_jupyter/server/apidocs`);
