# One image for the worker, the local provider and the CLI (see docker-compose.yml).
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN mkdir -p /data && chown -R node:node /app /data
USER node
CMD ["node", "--import", "tsx", "worker/main.ts"]
