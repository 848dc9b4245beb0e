//! Bad schema files: each test writes a small api-defs tree to a temporary
//! directory and checks that `kapi_codegen::generate` rejects it with one
//! `file: pointer: message` line naming the file and the place at fault.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A temporary `.../api-defs` tree, removed on drop.
struct Tree {
    root: PathBuf,
    api_defs: PathBuf,
}

impl Tree {
    fn new() -> Tree {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let root = std::env::temp_dir().join(format!(
            "kapi-codegen-errors-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&root);
        let api_defs = root.join("api-defs");
        std::fs::create_dir_all(&api_defs).expect("create temporary api-defs");
        Tree { root, api_defs }
    }

    fn file(self, path: &str, text: &str) -> Tree {
        let p = self.api_defs.join(path);
        std::fs::create_dir_all(p.parent().expect("a parent")).expect("create group dir");
        std::fs::write(&p, text).expect("write schema file");
        self
    }

    /// Adds a minimal `meta.k8s.io/v1.yaml` (ObjectMeta, ListMeta).
    fn meta(self) -> Tree {
        self.file("meta.k8s.io/v1.yaml", META)
    }

    fn error(&self) -> String {
        match kapi_codegen::generate(&self.api_defs) {
            Ok(out) => panic!(
                "expected an error, generated {:?}",
                out.files.keys().collect::<Vec<_>>()
            ),
            Err(e) => e.to_string(),
        }
    }

    fn path(&self) -> &Path {
        &self.api_defs
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

const META: &str = "\
openapi: 3.0.0
info: {title: meta.k8s.io/v1, version: v1}
paths: {}
components:
  schemas:
    ObjectMeta:
      type: object
      properties:
        name: {type: string}
    ListMeta:
      type: object
      properties:
        continue: {type: string}
";

/// An `example.com/v1.yaml` document with the given schemas (indented by 4).
fn doc(schemas: &str) -> String {
    format!(
        "openapi: 3.0.0\ninfo: {{title: example.com/v1, version: v1}}\npaths: {{}}\ncomponents:\n  schemas:\n{schemas}"
    )
}

/// A served `Widget` with the given extra lines in its `x-kapi-resource`
/// (after `plural`) and the given properties.
fn widget(resource: &str, properties: &str) -> String {
    doc(&format!(
        "    Widget:
      type: object
      properties:
{properties}      x-kubernetes-group-version-kind:
        - {{group: example.com, version: v1, kind: Widget}}
      x-kapi-resource:
        plural: widgets
{resource}"
    ))
}

const WIDGET_PROPERTIES: &str = "        apiVersion: {type: string}
        kind: {type: string}
        metadata:
          allOf:
            - $ref: '../meta.k8s.io/v1.yaml#/components/schemas/ObjectMeta'
          default: {}
";

fn served_widget(resource: &str) -> String {
    widget(resource, WIDGET_PROPERTIES)
}

#[test]
fn the_helpers_make_a_valid_tree() {
    let t = Tree::new().meta().file(
        "example.com/v1.yaml",
        &served_widget("        scope: Namespaced\n"),
    );
    let out = kapi_codegen::generate(t.path()).unwrap_or_else(|e| panic!("{e}"));
    assert!(out.files["example_com_v1.rs"].contains("pub struct WidgetList"));
}

#[test]
fn unknown_type() {
    let t = Tree::new().file(
        "example.com/v1.yaml",
        &doc("    Gadget:
      type: object
      properties:
        size: {type: integr}
"),
    );
    assert_eq!(
        t.error(),
        "api-defs/example.com/v1.yaml: #/components/schemas/Gadget/properties/size/type: \
         unknown type \"integr\"; expected one of object, array, string, integer, number, boolean"
    );
}

#[test]
fn unknown_type_in_array_items() {
    let t = Tree::new().file(
        "example.com/v1.yaml",
        &doc("    Gadget:
      type: object
      properties:
        parts:
          type: array
          items: {type: lst}
"),
    );
    assert_eq!(
        t.error(),
        "api-defs/example.com/v1.yaml: #/components/schemas/Gadget/properties/parts/items/type: \
         unknown type \"lst\"; expected one of object, array, string, integer, number, boolean"
    );
}

#[test]
fn ref_to_a_missing_schema_in_the_same_file() {
    let t = Tree::new().file(
        "example.com/v1.yaml",
        &doc("    Gadget:
      type: object
      properties:
        part:
          allOf:
            - $ref: '#/components/schemas/Part'
          description: Wrapped like upstream.
"),
    );
    assert_eq!(
        t.error(),
        "api-defs/example.com/v1.yaml: #/components/schemas/Gadget/properties/part: \
         $ref to Part, which api-defs/example.com/v1.yaml does not declare"
    );
}

#[test]
fn ref_to_a_missing_schema_in_another_file() {
    let t = Tree::new().meta().file(
        "example.com/v1.yaml",
        &doc("    Gadget:
      type: object
      properties:
        conditions:
          type: array
          items:
            $ref: '../meta.k8s.io/v1.yaml#/components/schemas/Condition'
"),
    );
    assert_eq!(
        t.error(),
        "api-defs/example.com/v1.yaml: #/components/schemas/Gadget/properties/conditions: \
         $ref to Condition, which api-defs/meta.k8s.io/v1.yaml does not declare"
    );
}

#[test]
fn ref_to_a_missing_file() {
    let t = Tree::new().file(
        "example.com/v1.yaml",
        &doc("    Gadget:
      type: object
      properties:
        pod:
          $ref: '../core/v1.yaml#/components/schemas/Pod'
"),
    );
    assert_eq!(
        t.error(),
        "api-defs/example.com/v1.yaml: #/components/schemas/Gadget/properties/pod: \
         $ref to Pod, but there is no schema file api-defs/core/v1.yaml"
    );
}

#[test]
fn ref_outside_components_schemas() {
    let t = Tree::new().file(
        "example.com/v1.yaml",
        &doc("    Gadget:
      type: object
      properties:
        part:
          $ref: '#/definitions/Part'
"),
    );
    assert_eq!(
        t.error(),
        "api-defs/example.com/v1.yaml: #/components/schemas/Gadget/properties/part: \
         cannot use $ref \"#/definitions/Part\": only #/components/schemas/<Name> can be referred to"
    );
}

#[test]
fn resource_with_an_unknown_key() {
    let t = Tree::new().meta().file(
        "example.com/v1.yaml",
        &served_widget("        scope: Namespaced\n        shortname: [wd]\n"),
    );
    let e = t.error();
    assert!(
        e.starts_with(
            "api-defs/example.com/v1.yaml: #/components/schemas/Widget/x-kapi-resource: \
             unknown field `shortname`, expected one of `plural`, `singular`, `shortNames`"
        ),
        "{e}"
    );
}

#[test]
fn resource_with_a_bad_scope() {
    let t = Tree::new().meta().file(
        "example.com/v1.yaml",
        &served_widget("        scope: Namespace\n"),
    );
    assert_eq!(
        t.error(),
        "api-defs/example.com/v1.yaml: #/components/schemas/Widget/x-kapi-resource: \
         unknown variant `Namespace`, expected `Namespaced` or `Cluster`"
    );
}

#[test]
fn resource_without_a_scope() {
    let t = Tree::new()
        .meta()
        .file("example.com/v1.yaml", &served_widget(""));
    assert_eq!(
        t.error(),
        "api-defs/example.com/v1.yaml: #/components/schemas/Widget/x-kapi-resource: \
         missing field `scope`"
    );
}

#[test]
fn resource_with_an_unknown_verb() {
    let t = Tree::new().meta().file(
        "example.com/v1.yaml",
        &served_widget("        scope: Cluster\n        verbs: [get, fetch]\n"),
    );
    assert_eq!(
        t.error(),
        "api-defs/example.com/v1.yaml: #/components/schemas/Widget/x-kapi-resource/verbs/1: \
         unknown verb \"fetch\"; expected one of create, delete, deletecollection, get, list, patch, update, watch"
    );
    let t = Tree::new().meta().file(
        "example.com/v1.yaml",
        &served_widget("        scope: Cluster\n        verbs: [Get]\n"),
    );
    assert!(
        t.error().starts_with(
            "api-defs/example.com/v1.yaml: #/components/schemas/Widget/x-kapi-resource/verbs/0: \
             unknown verb \"Get\""
        ),
        "{}",
        t.error()
    );
}

#[test]
fn resource_with_a_bad_plural() {
    let t = Tree::new().meta().file(
        "example.com/v1.yaml",
        &widget("        scope: Cluster\n", WIDGET_PROPERTIES).replace("widgets", "Widgets"),
    );
    assert_eq!(
        t.error(),
        "api-defs/example.com/v1.yaml: #/components/schemas/Widget/x-kapi-resource/plural: \
         \"Widgets\" must be a lowercase DNS label"
    );
}

#[test]
fn printer_column_with_a_bad_type() {
    let t = Tree::new().meta().file(
        "example.com/v1.yaml",
        &served_widget(
            "        scope: Cluster
        printerColumns:
          - {name: Name, type: string, jsonPath: .metadata.name}
          - {name: Size, type: int, jsonPath: .spec.size}
",
        ),
    );
    assert_eq!(
        t.error(),
        "api-defs/example.com/v1.yaml: #/components/schemas/Widget/x-kapi-resource/printerColumns/1/type: \
         \"int\" is not one of integer, number, string, boolean, date"
    );
}

#[test]
fn printer_column_with_path_and_count() {
    let t = Tree::new().meta().file(
        "example.com/v1.yaml",
        &served_widget(
            "        scope: Cluster
        printerColumns:
          - {name: Data, type: integer, jsonPath: .data, count: [.data]}
",
        ),
    );
    assert_eq!(
        t.error(),
        "api-defs/example.com/v1.yaml: #/components/schemas/Widget/x-kapi-resource/printerColumns/0: \
         a printer column needs exactly one of jsonPath, count and age"
    );
}

#[test]
fn served_kind_without_metadata() {
    let t = Tree::new().meta().file(
        "example.com/v1.yaml",
        &widget(
            "        scope: Namespaced\n",
            "        apiVersion: {type: string}\n        kind: {type: string}\n        spec: {type: object, properties: {size: {type: integer}}}\n",
        ),
    );
    assert_eq!(
        t.error(),
        "api-defs/example.com/v1.yaml: #/components/schemas/Widget/properties: \
         a served kind needs the property \"metadata\""
    );
}

#[test]
fn served_kind_without_api_version() {
    let t = Tree::new().meta().file(
        "example.com/v1.yaml",
        &widget(
            "        scope: Namespaced\n",
            &WIDGET_PROPERTIES.replace("        apiVersion: {type: string}\n", ""),
        ),
    );
    assert_eq!(
        t.error(),
        "api-defs/example.com/v1.yaml: #/components/schemas/Widget/properties: \
         a served kind needs the property \"apiVersion\""
    );
}

#[test]
fn served_kind_with_metadata_of_the_wrong_type() {
    let t = Tree::new().meta().file(
        "example.com/v1.yaml",
        &widget(
            "        scope: Namespaced\n",
            &WIDGET_PROPERTIES.replace("schemas/ObjectMeta", "schemas/ListMeta"),
        ),
    );
    assert_eq!(
        t.error(),
        "api-defs/example.com/v1.yaml: #/components/schemas/Widget/properties/metadata: \
         the property \"metadata\" of a served kind must be an allOf of \
         '../meta.k8s.io/v1.yaml#/components/schemas/ObjectMeta' with default: {}"
    );
}

#[test]
fn served_kind_with_metadata_without_default() {
    let t = Tree::new().meta().file(
        "example.com/v1.yaml",
        &widget(
            "        scope: Namespaced\n",
            &WIDGET_PROPERTIES.replace("          default: {}\n", ""),
        ),
    );
    assert_eq!(
        t.error(),
        "api-defs/example.com/v1.yaml: #/components/schemas/Widget/properties/metadata: \
         the property \"metadata\" of a served kind must be an allOf of \
         '../meta.k8s.io/v1.yaml#/components/schemas/ObjectMeta' with default: {}"
    );
}

#[test]
fn served_kind_with_a_kind_that_is_not_a_string() {
    let t = Tree::new().meta().file(
        "example.com/v1.yaml",
        &widget(
            "        scope: Namespaced\n",
            &WIDGET_PROPERTIES.replace(
                "        kind: {type: string}\n",
                "        kind: {type: integer}\n",
            ),
        ),
    );
    assert_eq!(
        t.error(),
        "api-defs/example.com/v1.yaml: #/components/schemas/Widget/properties/kind: \
         the property \"kind\" of a served kind must be of type string and not required"
    );
}

#[test]
fn served_kind_without_a_matching_gvk() {
    let t = Tree::new().meta().file(
        "example.com/v1.yaml",
        &served_widget("        scope: Namespaced\n")
            .replace("version: v1, kind", "version: v2, kind"),
    );
    assert_eq!(
        t.error(),
        "api-defs/example.com/v1.yaml: #/components/schemas/Widget: \
         a served kind needs x-kubernetes-group-version-kind [{group: \"example.com\", version: v1, kind: Widget}]"
    );
}

#[test]
fn declared_list_of_a_served_kind() {
    let mut text = served_widget("        scope: Namespaced\n");
    text.push_str(
        "    WidgetList:
      type: object
      properties:
        items:
          type: array
          items:
            $ref: '#/components/schemas/Widget'
",
    );
    let t = Tree::new().meta().file("example.com/v1.yaml", &text);
    assert_eq!(
        t.error(),
        "api-defs/example.com/v1.yaml: #/components/schemas/WidgetList: \
         WidgetList is generated for the served kind Widget; do not declare it"
    );
}

#[test]
fn list_type_map_without_keys() {
    let t = Tree::new().file(
        "example.com/v1.yaml",
        &doc("    Gadget:
      type: object
      properties:
        ports:
          type: array
          items: {type: object, properties: {name: {type: string}}}
          x-kubernetes-list-type: map
"),
    );
    assert_eq!(
        t.error(),
        "api-defs/example.com/v1.yaml: #/components/schemas/Gadget/properties/ports/x-kubernetes-list-type: \
         x-kubernetes-list-type: map needs x-kubernetes-list-map-keys"
    );
}

#[test]
fn unknown_list_type() {
    let t = Tree::new().file(
        "example.com/v1.yaml",
        &doc("    Gadget:
      type: object
      properties:
        names:
          type: array
          items: {type: string}
          x-kubernetes-list-type: bag
"),
    );
    assert_eq!(
        t.error(),
        "api-defs/example.com/v1.yaml: #/components/schemas/Gadget/properties/names/x-kubernetes-list-type: \
         \"bag\" is not one of atomic, set, map"
    );
}

#[test]
fn bad_file_name() {
    let t = Tree::new().file(
        "example.com/version1.yaml",
        &doc("    Gadget: {type: string}\n"),
    );
    assert_eq!(
        t.error(),
        "api-defs/example.com/version1.yaml: \
         \"version1\" is not a Kubernetes API version (v1, v1beta1, v2alpha3, ...)"
    );
    let t = Tree::new().file(
        "example.com/v1beta.yaml",
        &doc("    Gadget: {type: string}\n"),
    );
    assert_eq!(
        t.error(),
        "api-defs/example.com/v1beta.yaml: \
         \"v1beta\" is not a Kubernetes API version (v1, v1beta1, v2alpha3, ...)"
    );
}

#[test]
fn schema_name_not_pascal_case() {
    let t = Tree::new().file("example.com/v1.yaml", &doc("    gadget: {type: string}\n"));
    assert_eq!(
        t.error(),
        "api-defs/example.com/v1.yaml: #/components/schemas/gadget: \
         schema names must be PascalCase identifiers (like ConfigMap)"
    );
}

#[test]
fn required_but_not_a_property() {
    let t = Tree::new().file(
        "example.com/v1.yaml",
        &doc("    Gadget:
      type: object
      required: [size]
      properties:
        name: {type: string}
"),
    );
    assert_eq!(
        t.error(),
        "api-defs/example.com/v1.yaml: #/components/schemas/Gadget/required: \
         \"size\" is required but is not a property"
    );
}

#[test]
fn not_openapi_3_0() {
    let t = Tree::new().file(
        "example.com/v1.yaml",
        &doc("    Gadget: {type: string}\n").replace("openapi: 3.0.0", "openapi: 3.1.0"),
    );
    assert_eq!(
        t.error(),
        "api-defs/example.com/v1.yaml: #/openapi: \
         only OpenAPI 3.0 documents are supported, found \"3.1.0\""
    );
}

#[test]
fn invalid_yaml() {
    let t = Tree::new().file("example.com/v1.yaml", "openapi: [3.0.0\n");
    let e = t.error();
    assert!(
        e.starts_with("api-defs/example.com/v1.yaml: invalid YAML: "),
        "{e}"
    );
}

#[test]
fn two_groups_in_one_module() {
    let t = Tree::new()
        .file("example.com/v1.yaml", &doc("    Gadget: {type: string}\n"))
        .file(
            "example-com/v1.yaml",
            &doc("    Gadget: {type: string}\n").replace("example.com", "example-com"),
        );
    assert_eq!(
        t.error(),
        "api-defs/example.com/v1.yaml: maps to the same Rust module as api-defs/example-com/v1.yaml"
    );
}

#[test]
fn served_kind_with_a_required_api_version() {
    let mut text = served_widget("        scope: Namespaced\n");
    text = text.replace(
        "    Widget:\n      type: object\n",
        "    Widget:\n      type: object\n      required: [apiVersion]\n",
    );
    let t = Tree::new().meta().file("example.com/v1.yaml", &text);
    assert_eq!(
        t.error(),
        "api-defs/example.com/v1.yaml: #/components/schemas/Widget/properties/apiVersion: \
         the property \"apiVersion\" of a served kind must be of type string and not required"
    );
}

#[test]
fn unknown_type_of_a_named_schema() {
    let t = Tree::new().file("example.com/v1.yaml", &doc("    Gadget: {type: text}\n"));
    assert_eq!(
        t.error(),
        "api-defs/example.com/v1.yaml: #/components/schemas/Gadget/type: \
         unknown type \"text\"; expected one of object, array, string, integer, number, boolean"
    );
}

#[test]
fn unknown_type_of_map_values() {
    let t = Tree::new().file(
        "example.com/v1.yaml",
        &doc("    Gadget:
      type: object
      properties:
        labels:
          type: object
          additionalProperties: {type: str}
"),
    );
    assert_eq!(
        t.error(),
        "api-defs/example.com/v1.yaml: #/components/schemas/Gadget/properties/labels/additionalProperties/type: \
         unknown type \"str\"; expected one of object, array, string, integer, number, boolean"
    );
}

#[test]
fn protobuf_number_missing_on_a_property() {
    let t = Tree::new().file(
        "example.com/v1.yaml",
        &doc("    Gadget:
      type: object
      properties:
        size: {type: integer, x-kapi-protobuf: 1}
        colour: {type: string}
"),
    );
    assert_eq!(
        t.error(),
        "api-defs/example.com/v1.yaml: #/components/schemas/Gadget/properties/colour/x-kapi-protobuf: \
         a type with protobuf field numbers needs one on every property (a positive integer, or false to leave it out)"
    );
}

#[test]
fn protobuf_number_used_twice() {
    let t = Tree::new().file(
        "example.com/v1.yaml",
        &doc("    Gadget:
      type: object
      properties:
        size: {type: integer, x-kapi-protobuf: 1}
        colour: {type: string, x-kapi-protobuf: 1}
"),
    );
    assert_eq!(
        t.error(),
        "api-defs/example.com/v1.yaml: #/components/schemas/Gadget/properties/size/x-kapi-protobuf: \
         field number 1 is out of range or used twice"
    );
}

#[test]
fn protobuf_field_of_a_type_without_numbers() {
    let t = Tree::new().file(
        "example.com/v1.yaml",
        &doc("    Gadget:
      type: object
      properties:
        part:
          allOf:
            - $ref: '#/components/schemas/Part'
          x-kapi-protobuf: 1
    Part:
      type: object
      properties:
        name: {type: string}
"),
    );
    assert_eq!(
        t.error(),
        "api-defs/example.com/v1.yaml: #/components/schemas/Gadget/properties/part/x-kapi-protobuf: \
         Part has no protobuf field numbers"
    );
}

#[test]
fn protobuf_unknown_alias_encoding() {
    let t = Tree::new().file(
        "example.com/v1.yaml",
        &doc("    Stamp:
      type: string
      x-kapi-protobuf: clock
"),
    );
    assert_eq!(
        t.error(),
        "api-defs/example.com/v1.yaml: #/components/schemas/Stamp/x-kapi-protobuf: \
         must be one of time, micro-time, quantity, raw, empty, schema-or-array, schema-or-bool, schema-or-string-array"
    );
}

const WIDGET_WITH_SPEC: &str = "        apiVersion: {type: string}
        kind: {type: string}
        metadata:
          allOf:
            - $ref: '../meta.k8s.io/v1.yaml#/components/schemas/ObjectMeta'
          default: {}
        spec:
          type: object
          properties:
            color: {type: string}
            ready: {type: boolean}
            size: {type: integer}
            tags: {type: array, items: {type: string}}
";

#[test]
fn selectable_fields_are_generated_with_their_zero_values() {
    let t = Tree::new().meta().file(
        "example.com/v1.yaml",
        &widget(
            "        scope: Namespaced
        selectableFields:
          - spec.color
          - spec.ready
          - spec.size
          - {name: colour, paths: [spec.color], default: none}
",
            WIDGET_WITH_SPEC,
        ),
    );
    let out = kapi_codegen::generate(t.path()).unwrap_or_else(|e| panic!("{e}"));
    let code = &out.files["example_com_v1.rs"];
    for expected in [
        "selectable_field(\"spec.color\")",
        "selectable_field(\"spec.ready\", default = \"false\")",
        "selectable_field(\"spec.size\", default = \"0\")",
        "selectable_field(\"colour\", path = \"spec.color\", default = \"none\")",
    ] {
        assert!(code.contains(expected), "{expected} not in\n{code}");
    }
}

#[test]
fn selectable_field_that_is_not_a_scalar() {
    let t = Tree::new().meta().file(
        "example.com/v1.yaml",
        &widget(
            "        scope: Namespaced
        selectableFields: [spec.color, spec.tags]
",
            WIDGET_WITH_SPEC,
        ),
    );
    assert_eq!(
        t.error(),
        "api-defs/example.com/v1.yaml: #/components/schemas/Widget/x-kapi-resource/selectableFields/1: \
         path \"spec.tags\": must point to a field of type string, boolean or integer"
    );
}

#[test]
fn selectable_field_that_does_not_exist() {
    let t = Tree::new().meta().file(
        "example.com/v1.yaml",
        &widget(
            "        scope: Namespaced
        selectableFields: [spec.colour]
",
            WIDGET_WITH_SPEC,
        ),
    );
    assert_eq!(
        t.error(),
        "api-defs/example.com/v1.yaml: #/components/schemas/Widget/x-kapi-resource/selectableFields/0: \
         path \"spec.colour\": no property \"colour\""
    );
}

#[test]
fn selectable_field_naming_metadata_name() {
    let t = Tree::new().meta().file(
        "example.com/v1.yaml",
        &widget(
            "        scope: Namespaced
        selectableFields: [metadata.name]
",
            WIDGET_WITH_SPEC,
        ),
    );
    assert_eq!(
        t.error(),
        "api-defs/example.com/v1.yaml: #/components/schemas/Widget/x-kapi-resource/selectableFields/0: \
         \"metadata.name\" is always selectable; do not declare it"
    );
}
