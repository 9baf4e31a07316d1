import * as fs from 'node:fs';
import * as path from 'node:path';

import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from './private-files';

/**
 * A file of lines, opened once (O_APPEND, mode 0600) and appended to with synchronous writes: a line is in the file
 * (the kernel's page cache) before `appendLine` returns, so it survives a SIGKILL of the process right after.
 */
export class AppendOnlyFile {
  private fd: number | undefined;

  constructor(readonly file: string) {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: PRIVATE_DIR_MODE });
    // 'a+': O_APPEND (every write lands at the end, also after a truncate) and readable, for the check below.
    const fd = fs.openSync(file, 'a+', PRIVATE_FILE_MODE);
    this.fd = fd;
    try {
      fs.fchmodSync(fd, PRIVATE_FILE_MODE); // also when an older run left it wider
      // A line torn by a SIGKILL mid-append: end it, so the next line starts on a line of its own.
      const { size } = fs.fstatSync(fd);
      if (size > 0) {
        const last = Buffer.alloc(1);
        fs.readSync(fd, last, 0, 1, size - 1);
        if (last[0] !== 0x0a) this.write('\n');
      }
    } catch (err) {
      this.close();
      throw err;
    }
  }

  /** Appends `line` and a newline (`line` must not contain one). */
  appendLine(line: string): void {
    this.write(`${line}\n`);
  }

  /** Empties the file (later lines start at offset 0). */
  truncate(): void {
    fs.ftruncateSync(this.openFd(), 0);
  }

  close(): void {
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    fs.closeSync(fd);
  }

  private write(text: string): void {
    const fd = this.openFd();
    const bytes = Buffer.from(text, 'utf8');
    let written = 0;
    while (written < bytes.length) written += fs.writeSync(fd, bytes, written, bytes.length - written);
  }

  private openFd(): number {
    if (this.fd === undefined) throw new Error(`${this.file} is closed`);
    return this.fd;
  }
}
