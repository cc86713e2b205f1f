/**
 * SQLite rows (snake_case columns, 0/1 for booleans, JSON in text) to the objects the rest of the code sees,
 * declared once per table: the columns in order, each becoming the field of its camelCase name.
 *
 *   const USER = rowMap<UserRecord>()('name agency state_changed_at locked:bool twoFactor=totp_secret:nonnull');
 *   USER.toObject(row)      // { name, agency, stateChangedAt, locked: row.locked === 1, twoFactor: ... }
 *   USER.columns('u')       // 'u.name, u.agency, u.state_changed_at, u.locked, u.totp_secret'
 *
 * A column is `column`, `column:kind` or `field=column:kind`, separated by white space. Kinds: `bool` (1 is
 * true), `json` (the text parsed; NULL stays null), `nonnull` (whether the column is not NULL). Fields that no
 * single column gives are computed by `derived`: listed by name among the columns they take that place in the
 * object, otherwise they come last. The type checks that the fields given are exactly the fields of T (unless T
 * has an index signature: then any).
 */

type Kind = 'bool' | 'json' | 'nonnull';

type Camel<S extends string> = S extends `${infer H}_${infer R}` ? `${H}${Capitalize<Camel<R>>}` : S;

/** The field a column token gives. */
type FieldOf<S extends string> = S extends `${infer F}=${string}` ? F : S extends `${infer C}:${string}` ? Camel<C> : Camel<S>;

type Spaced<S extends string> = S extends `${infer A}\n${infer B}` ? Spaced<`${A} ${B}`> : S;

/** The fields of a whitespace-separated list of column tokens. */
type Fields<S extends string, Acc extends string = never> = S extends `${infer A} ${infer B}`
  ? Fields<B, Acc | (A extends '' ? never : FieldOf<A>)>
  : Acc | (S extends '' ? never : FieldOf<S>);

/** The row as SQLite gives it. */
export type Row = Readonly<Record<string, unknown>>;

type Derived<T> = { [K in keyof T]?: (row: Row) => T[K] };

/** The fields of T that the columns S do not give: `derived` must compute them. */
type Missing<T, S extends string> = Exclude<keyof T, Fields<Spaced<S>>>;

/** `unknown` when every column gives a field of T (or T takes any field); otherwise the columns that do not. */
type Check<T, S extends string> = string extends keyof T ? unknown : [Exclude<Fields<Spaced<S>>, keyof T>] extends [never] ? unknown : { unknown: Exclude<Fields<Spaced<S>>, keyof T> };

type DerivedArg<T, S extends string> = string extends keyof T
  ? [derived?: Derived<T>]
  : [Missing<T, S>] extends [never]
  ? [derived?: Derived<T>]
  : [derived: { [K in Missing<T, S>]-?: (row: Row) => T[K] } & Derived<T>];

export interface RowMap<T> {
  /** The columns read, comma-separated, each prefixed by `alias.` when given: a SELECT list. */
  columns(alias?: string): string;
  /** The object of a row that has (at least) these columns. */
  toObject(row: object): T;
}

interface Step {
  field: string;
  column?: string;
  kind?: Kind;
  derive?: (row: Row) => unknown;
}

const camel = (s: string): string => s.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/** A row map for objects of type T (the call is curried so T is given and the columns inferred). */
export function rowMap<T>() {
  return <const S extends string>(columns: S & Check<T, S>, ...[derived]: DerivedArg<T, S>): RowMap<T> => {
    const extra: Record<string, (row: Row) => unknown> = { ...(derived as Record<string, (row: Row) => unknown> | undefined) };
    const steps: Step[] = [];
    for (const token of (columns as string).split(/\s+/).filter((t) => t !== '')) {
      const m = /^(?:(\w+)=)?(\w+)(?::(\w+))?$/.exec(token);
      if (!m) throw new Error(`rowMap: bad column ${JSON.stringify(token)}`);
      const [, field, column, kind] = m as unknown as [string, string | undefined, string, Kind | undefined];
      if (kind !== undefined && kind !== 'bool' && kind !== 'json' && kind !== 'nonnull') throw new Error(`rowMap: unknown kind in ${JSON.stringify(token)}`);
      if (field === undefined && kind === undefined && extra[column]) {
        steps.push({ field: column, derive: extra[column] });
        delete extra[column];
      } else steps.push({ field: field ?? camel(column), column, kind });
    }
    for (const [field, derive] of Object.entries(extra)) steps.push({ field, derive });
    const read = [...new Set(steps.filter((s) => s.column !== undefined).map((s) => s.column!))];
    // The conversion as one function, written once here from the steps (names are \w+, checked above), so that a
    // row converts as fast as by a hand-written object literal (a loop over the steps took 2.5 times as long).
    const derive = steps.map((s) => s.derive);
    const fields = steps.map((s, i) => {
      const v = `r[${JSON.stringify(s.column)}]`;
      const value = s.derive
        ? `d[${i}](r)`
        : s.kind === 'bool'
          ? `${v} === 1`
          : s.kind === 'nonnull'
            ? `${v} !== null`
            : s.kind === 'json'
              ? `${v} === null ? null : JSON.parse(${v})`
              : v;
      return `${JSON.stringify(s.field)}: ${value}`;
    });
    const convert = new Function('d', `return (r) => ({ ${fields.join(', ')} });`)(derive) as (row: object) => T;
    return {
      columns: (alias) => read.map((c) => (alias ? `${alias}.${c}` : c)).join(', '),
      toObject: convert,
    };
  };
}
