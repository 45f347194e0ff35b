# syntax=docker/dockerfile:1
# Multi-stage build: compile with dev dependencies, run with production dependencies only, as a non-root user.

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY nest-cli.json tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# The package leaves @nestjs/*, rxjs & co. to its host (peerDependencies); the standalone app is its
# own host, so it installs them, with its HTTP platform and config module, at the locked versions.
RUN node -e "const p=require('./package.json');for(const n of [...Object.keys(p.peerDependencies),'@nestjs/config','@nestjs/platform-express'])p.dependencies[n]=p.devDependencies[n];p.devDependencies={};require('fs').writeFileSync('package.json',JSON.stringify(p))" \
 && npm install --omit=dev --no-audit --no-fund && npm cache clean --force

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    PORT=3000 \
    HOST=0.0.0.0 \
    LOG_FORMAT=json
WORKDIR /app
COPY --from=deps --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist ./dist
COPY --chown=node:node package.json ./
USER node
EXPOSE 3000
# /ws/health answers 503 while shutting down and 200 otherwise (degraded included).
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/ws/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# JWT_SECRET (or JWT_PUBLIC_KEY) must be supplied at run time: production refuses to start without it.
STOPSIGNAL SIGTERM
CMD ["node", "dist/main.js"]
