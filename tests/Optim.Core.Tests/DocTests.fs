/// The documented surface: every public type and member of Optim.Core has an XML doc comment.
module Optim.Tests.DocTests

open System
open System.IO
open System.Reflection
open System.Runtime.CompilerServices
open System.Xml.Linq
open Expecto

let private documented (assembly: Assembly) =
    let path = Path.ChangeExtension(assembly.Location, ".xml")
    XDocument.Load(path).Descendants(XName.Get "member")
    |> Seq.map (fun m -> m.Attribute(XName.Get "name").Value)
    |> Set.ofSeq

/// The id prefix of a member, without its parameter list (overloads are documented one by one by the compiler).
let private prefix (t: Type) (m: MemberInfo) =
    let typeName = t.FullName.Replace('+', '.')
    match m with
    | :? PropertyInfo -> $"P:{typeName}.{m.Name}"
    | :? MethodInfo -> $"M:{typeName}.{m.Name}"
    | :? ConstructorInfo -> $"M:{typeName}.#ctor"
    | _ -> $"?:{typeName}.{m.Name}"

let private generated = set [ "Equals"; "GetHashCode"; "CompareTo"; "ToString"; "Tag" ]

let undocumented (assembly: Assembly) =
    let docs = documented assembly
    let has (id: string) = docs |> Set.exists (fun d -> d = id || d.StartsWith(id + "(") || d.StartsWith(id + "``"))
    [ for t in assembly.GetExportedTypes() do
        if not (t.IsDefined(typeof<CompilerGeneratedAttribute>)) && not (t.Name.StartsWith "<") then
            let typeId = "T:" + t.FullName.Replace('+', '.')
            // F# union cases compile to nested types documented under their case name
            if not (has typeId) && not (t.DeclaringType <> null && Reflection.FSharpType.IsUnion t.DeclaringType) then yield typeId
            let members : MemberInfo[] =
                t.GetMembers(BindingFlags.Public ||| BindingFlags.Instance ||| BindingFlags.Static ||| BindingFlags.DeclaredOnly)
            for m in members do
                let skip =
                    generated.Contains m.Name
                    || m.IsDefined(typeof<CompilerGeneratedAttribute>)
                    || m.Name.StartsWith "get_" || m.Name.StartsWith "set_" || m.Name.StartsWith "New" || m.Name.StartsWith "Is"
                    || m.Name.StartsWith "Item" || (m :? FieldInfo) || (m :? Type) || (m :? EventInfo)
                    || (m :? ConstructorInfo && (Reflection.FSharpType.IsRecord t || Reflection.FSharpType.IsUnion t || t.IsValueType))
                    || (m :? MethodInfo && (m :?> MethodInfo).IsSpecialName)
                    || (Reflection.FSharpType.IsUnion t && (m :? PropertyInfo))
                if not skip && not (has (prefix t m)) then yield prefix t m ]

let tests =
    testList "DocTests" [
        testCase "every public type and member of Optim.Core has an XML doc" <| fun () ->
            let missing = undocumented typeof<Optim.Tensor>.Assembly
            Assert.True(List.isEmpty missing, "Undocumented: " + String.Join(", ", missing))
    ]
