import protobuf from 'protobufjs';
import { schemaRoot } from '../../protocol/schema.js';

/**
 * Every field number of bwc.v1 and what it means (name, type, label, oneof),
 * every enum value, and every reserved number: the listing that
 * protocol/vectors/fields.json freezes. A field number may never change
 * meaning; a removed field's number (and name) must stay reserved.
 */
export interface SchemaListing {
  messages: Record<string, { fields: Record<string, string>; reserved: (number | string)[] }>;
  enums: Record<string, { values: Record<string, string>; reserved: (number | string)[] }>;
}

export function schemaListing(): SchemaListing {
  const out: SchemaListing = { messages: {}, enums: {} };
  const ns = schemaRoot().lookup('bwc.v1') as protobuf.Namespace;
  const visit = (obj: protobuf.ReflectionObject, prefix: string) => {
    if (obj instanceof protobuf.Type) {
      const name = prefix + obj.name;
      const fields: Record<string, string> = {};
      for (const f of obj.fieldsArray) {
        const type = f.resolvedType ? f.resolvedType.fullName.replace(/^\.bwc\.v1\./, '') : f.type;
        const label = f.repeated ? 'repeated ' : '';
        const oneof = f.partOf ? ` (oneof ${f.partOf.name})` : '';
        fields[String(f.id)] = `${label}${type} ${f.name}${oneof}`;
      }
      out.messages[name] = { fields, reserved: flattenReserved(obj.reserved) };
      for (const nested of obj.nestedArray) visit(nested, name + '.');
    } else if (obj instanceof protobuf.Enum) {
      const values: Record<string, string> = {};
      for (const [k, v] of Object.entries(obj.values)) values[String(v)] = k;
      out.enums[prefix + obj.name] = { values, reserved: flattenReserved(obj.reserved) };
    }
  };
  for (const obj of ns.nestedArray) visit(obj, '');
  return out;
}

function flattenReserved(reserved: Array<number[] | string> | undefined): (number | string)[] {
  const out: (number | string)[] = [];
  for (const r of reserved ?? []) {
    if (typeof r === 'string') out.push(r);
    else for (let i = r[0]!; i <= r[1]! && i - r[0]! < 1000; i++) out.push(i);
  }
  return out;
}

type Entries = Record<string, { reserved: (number | string)[] } & Record<string, unknown>>;

/**
 * What breaks the rule between a frozen listing and the current one: a number
 * whose meaning changed, a number gone without `reserved`, a reservation
 * dropped, a reserved number reused, and (so that the listing stays complete)
 * anything new that was not added to the listing.
 */
export function compareListing(frozen: SchemaListing, now: SchemaListing): string[] {
  const problems: string[] = [];
  for (const [kind, key] of [['messages', 'fields'], ['enums', 'values']] as const) {
    const was = frozen[kind] as Entries;
    const is = now[kind] as Entries;
    for (const [name, old] of Object.entries(was)) {
      const cur = is[name];
      if (!cur) {
        problems.push(`${name} was removed: keep it (mark it deprecated) or restore it`);
        continue;
      }
      const oldEntries = old[key] as Record<string, string>;
      const curEntries = cur[key] as Record<string, string>;
      for (const [num, meaning] of Object.entries(oldEntries)) {
        if (curEntries[num] === meaning) continue;
        if (curEntries[num] === undefined && cur.reserved.includes(Number(num))) continue; // removed the right way
        problems.push(`${name} ${num}: was "${meaning}", now ${curEntries[num] === undefined ? 'gone without `reserved`' : `"${curEntries[num]}"`}`);
      }
      for (const r of old.reserved) if (!cur.reserved.includes(r)) problems.push(`${name}: reserved ${r} is no longer reserved`);
      for (const num of Object.keys(curEntries)) {
        if (old.reserved.includes(Number(num))) problems.push(`${name} ${num} reuses a reserved number`);
        else if (!(num in oldEntries)) problems.push(`${name} ${num} "${curEntries[num]}" is new: add it to fields.json (and a vector) in the same change`);
      }
    }
    for (const name of Object.keys(is)) if (!(name in was)) problems.push(`${name} is new: add it to fields.json in the same change`);
  }
  return problems;
}
