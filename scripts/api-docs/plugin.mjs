// TypeDoc plugin for `npm run docs`: members whose names start with an underscore are the
// package's internals (other modules of lib/ call them; users never should), so they are left
// out of the reference like `@internal` ones.
import { Converter, ReflectionKind } from 'typedoc';

const MEMBER = ReflectionKind.Property | ReflectionKind.Method | ReflectionKind.Accessor | ReflectionKind.Variable | ReflectionKind.Function;

/** @param {import('typedoc').Application} app */
export function load(app) {
  app.converter.on(Converter.EVENT_RESOLVE_BEGIN, (context) => {
    const project = context.project;
    for (const reflection of Object.values(project.reflections)) {
      if (reflection.name.startsWith('_') && reflection.kindOf(MEMBER)) project.removeReflection(reflection);
    }
  });
}
