// An incremental RFC-4180 parser: fed chunks of text, returns the rows completed so far. Quoted
// fields may hold delimiters, newlines and doubled quotes (""). Rows end at \n, \r\n or \r.
// A quote inside an unquoted field is kept literally (lenient: TSV files often have them).

export interface CsvRow {
  readonly fields: string[];
  /** 1-based line where the row starts. */
  readonly line: number;
}

type State = 'fieldStart' | 'unquoted' | 'quoted' | 'afterQuote';

export class CsvParser {
  private state: State = 'fieldStart';
  private field = '';
  private row: string[] = [];
  private line = 1;
  private rowLine = 1;
  private quoteLine = 1;
  private skipLf = false;
  private first = true;

  constructor(private readonly delimiter: string, private readonly where: string) {
    if (delimiter.length !== 1 || delimiter === '"' || delimiter === '\n' || delimiter === '\r') throw new Error(`csv: bad delimiter ${JSON.stringify(delimiter)}`);
  }

  push(chunk: string, out: CsvRow[]): void {
    let i = 0;
    if (this.first && chunk.length > 0) {
      this.first = false;
      if (chunk.charCodeAt(0) === 0xfeff) i = 1; // UTF-8 BOM
    }
    for (; i < chunk.length; i++) {
      const c = chunk[i];
      if (this.skipLf) {
        this.skipLf = false;
        if (c === '\n') continue;
      }
      switch (this.state) {
        case 'quoted':
          if (c === '"') this.state = 'afterQuote';
          else {
            if (c === '\n') this.line++;
            this.field += c;
          }
          break;
        case 'afterQuote':
          if (c === '"') {
            this.field += '"';
            this.state = 'quoted';
          } else if (!this.separator(c, out)) {
            throw new Error(`${this.where}:${this.line}: unexpected ${JSON.stringify(c)} after a closing quote (a quote inside a quoted field is written "")`);
          }
          break;
        case 'fieldStart':
          if (c === '"') {
            this.state = 'quoted';
            this.quoteLine = this.line;
          } else if (!this.separator(c, out)) {
            this.field += c;
            this.state = 'unquoted';
          }
          break;
        case 'unquoted':
          if (!this.separator(c, out)) this.field += c;
          break;
      }
    }
  }

  /** Call at end of input: emits the last row if the input did not end with a newline. */
  finish(out: CsvRow[]): void {
    if (this.state === 'quoted') throw new Error(`${this.where}:${this.quoteLine}: quoted field not closed before end of file`);
    if (this.state !== 'fieldStart' || this.row.length > 0) this.endRow(out);
  }

  /** Handles a delimiter or row end outside quotes; false if `c` is neither. */
  private separator(c: string, out: CsvRow[]): boolean {
    if (c === this.delimiter) {
      this.row.push(this.field);
      this.field = '';
      this.state = 'fieldStart';
      return true;
    }
    if (c === '\n' || c === '\r') {
      this.endRow(out);
      this.line++;
      this.rowLine = this.line;
      this.skipLf = c === '\r';
      return true;
    }
    return false;
  }

  private endRow(out: CsvRow[]): void {
    this.row.push(this.field);
    const blank = this.row.length === 1 && this.row[0] === '' && this.state === 'fieldStart';
    if (!blank) out.push({ fields: this.row, line: this.rowLine });
    this.row = [];
    this.field = '';
    this.state = 'fieldStart';
  }
}
