import { GraphQLScalarType } from 'graphql';

/** Resolvers by type name: fields by field name, or a custom scalar. */
export type ResolverMap = Record<string, Record<string, unknown> | GraphQLScalarType>;

/**
 * A room's resolver maps (one per entity folder, and its scalars) as one. The fields of a type
 * several folders resolve (`Tenant`, `Mutation`) are merged; a field or scalar defined twice
 * throws when the server is built, where an object spread would silently keep the last one.
 * @example resolvers: mergeResolvers({ DateTime }, organizationResolvers, projectResolvers)
 */
export function mergeResolvers(...maps: ResolverMap[]): ResolverMap {
  const merged: ResolverMap = {};
  for (const map of maps) {
    for (const [typeName, fields] of Object.entries(map)) {
      const known = merged[typeName];
      if (known === undefined) {
        merged[typeName] = fields instanceof GraphQLScalarType ? fields : { ...fields };
        continue;
      }
      if (known instanceof GraphQLScalarType || fields instanceof GraphQLScalarType) {
        throw new Error(`mergeResolvers: ${typeName} is defined twice`);
      }
      for (const [fieldName, resolver] of Object.entries(fields)) {
        if (fieldName in known) throw new Error(`mergeResolvers: ${typeName}.${fieldName} is defined twice`);
        known[fieldName] = resolver;
      }
    }
  }
  return merged;
}
